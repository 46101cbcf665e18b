use std::rc::Rc;

use smartasync::smartasync;

#[smartasync]
trait Load: Send + Sync {
    fn load(&self) -> Rc<String>;
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Load for Plain {
    fn load(&self) -> Rc<String> {
        Rc::new(String::new())
    }
}

fn main() {}
