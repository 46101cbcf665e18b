use smartasync::smartasync;

#[smartasync]
trait Store {
    #[smartasync(limit = 2)]
    fn write(&self, value: u32) -> u32;
}

fn main() {}
