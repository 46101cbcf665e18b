use std::cell::Cell;

use smartasync::smartasync;

#[smartasync]
trait Hits {
    fn hits(&self) -> u32;
}

#[derive(Clone)]
struct Counter {
    hits: Cell<u32>,
}

#[smartasync]
impl Hits for Counter {
    fn hits(&self) -> u32 {
        self.hits.get()
    }
}

fn main() {}
