use smartasync::smartasync;

#[smartasync]
trait Store {
    fn load(&self, id: u32) -> u32;
}

struct Memory;

impl Store for Memory {
    fn load(&self, id: u32) -> u32 {
        id
    }
}

fn main() {}
