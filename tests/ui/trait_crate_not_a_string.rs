use smartasync::smartasync;

#[smartasync(crate = smartasync)]
trait Load: Send + Sync {
    fn load(&self, id: u32) -> u32;
}

fn main() {}
