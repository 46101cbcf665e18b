use smartasync::smartasync;

#[smartasync]
trait Answer: Send + Sync {
    fn answer(&self) -> u32;
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Answer for Plain {
    const fn answer(&self) -> u32 {
        42
    }
}

fn main() {}
