use smartasync::smartasync;

#[smartasync]
trait Load: Send + Sync {
    fn load(&self, id: u32) -> u32;
}

#[derive(Clone)]
struct Plain;

#[smartasync(crate = smartasync)]
impl Load for Plain {
    fn load(&self, id: u32) -> u32 {
        id
    }
}

fn main() {}
