use smartasync::smartasync;

#[smartasync]
trait Load: Send + Sync {
    fn load(&self, id: u32) -> u32;
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Load for Plain {
    #[smartasync(blocking)]
    fn load(&self, id: u32) -> u32 {
        id
    }
}

fn main() {}
