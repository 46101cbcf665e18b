use smartasync::smartasync;

#[smartasync]
trait Load: Send + Sync {
    fn load(&self, id: u32) -> u32;
}

struct Plain;

#[smartasync]
impl Load for Plain {
    #[smartasync(in_place = true)]
    fn load(&self, id: u32) -> u32 {
        id
    }
}

fn main() {}
