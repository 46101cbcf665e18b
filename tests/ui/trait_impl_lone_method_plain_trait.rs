use smartasync::smartasync;

trait Store {
    fn load(&self, id: u32) -> u32;
}

#[derive(Clone)]
struct Memory;

impl Store for Memory {
    #[smartasync]
    fn load(&self, id: u32) -> u32 {
        id
    }
}

fn main() {}
