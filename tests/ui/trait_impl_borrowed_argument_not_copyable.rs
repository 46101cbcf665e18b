use smartasync::smartasync;

struct Handle {
    id: u32,
}

#[smartasync]
trait Describe: Send + Sync {
    fn describe(&self, handle: &Handle) -> u32;
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Describe for Plain {
    fn describe(&self, handle: &Handle) -> u32 {
        handle.id
    }
}

fn main() {}
