use smartasync::smartasync;

trait Store {
    #[smartasync]
    fn load(&self, id: u32) -> u32;
}

fn main() {}
