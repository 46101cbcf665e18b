use std::rc::Rc;

use smartasync::smartasync;

#[smartasync]
fn load() -> Rc<String> {
    Rc::new(String::new())
}

fn main() {}
