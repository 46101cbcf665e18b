use smartasync::smartasync;

#[smartasync]
trait Increment: Send + Sync {
    fn increment(&mut self) -> u32;
}

#[derive(Clone)]
struct Counter {
    count: u32,
}

#[smartasync]
impl Increment for Counter {
    fn increment(&mut self) -> u32 {
        self.count += 1;
        self.count
    }
}

fn main() {}
