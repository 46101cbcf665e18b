use smartasync::smartasync;

#[smartasync]
trait Load: Send + Sync {
    #[smartasync(blocking)]
    fn load(&self, id: u32) -> u32;
}

fn main() {}
