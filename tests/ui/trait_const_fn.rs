use smartasync::smartasync;

#[smartasync]
trait Answer: Send + Sync {
    const fn answer(&self) -> u32;
}

fn main() {}
