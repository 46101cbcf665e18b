use smartasync::smartasync;

#[smartasync]
trait Store {
    #[smartasync(in_place)]
    fn load(&self, id: u32) -> u32;
}

fn main() {}
