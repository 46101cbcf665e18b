use std::rc::Rc;

use smartasync::smartasync;

#[smartasync]
fn count(items: Rc<Vec<u8>>) -> usize {
    items.len()
}

fn main() {}
