use std::rc::Rc;

use smartasync::smartasync;

#[smartasync]
trait Rows: Send + Sync {
    fn rows(&self) -> impl Iterator<Item = Rc<u8>>;
}

#[derive(Clone)]
struct Table;

#[smartasync]
impl Rows for Table {
    fn rows(&self) -> impl Iterator<Item = Rc<u8>> {
        (0..3).map(Rc::new)
    }
}

fn main() {}
