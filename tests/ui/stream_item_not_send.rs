use std::rc::Rc;

use smartasync::smartasync;

#[smartasync]
fn rows(count: u8) -> impl Iterator<Item = Rc<u8>> {
    (0..count).map(Rc::new)
}

fn main() {}
