use std::rc::Rc;

use smartasync::smartasync;

#[smartasync]
trait Counter: Send + Sync {
    fn count(&self, items: Rc<Vec<u8>>) -> usize;
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Counter for Plain {
    fn count(&self, items: Rc<Vec<u8>>) -> usize {
        items.len()
    }
}

fn main() {}
