use std::cell::Cell;

use smartasync::smartasync;

#[derive(Clone)]
struct Counter {
    hits: Cell<u32>,
}

impl Counter {
    #[smartasync]
    fn hits(&self) -> u32 {
        self.hits.get()
    }
}

fn main() {}
