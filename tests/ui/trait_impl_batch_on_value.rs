use smartasync::smartasync;

#[smartasync]
trait Total: Send + Sync {
    fn total(&self, values: Vec<u32>) -> u32;
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Total for Plain {
    #[smartasync(batch = 16)]
    fn total(&self, values: Vec<u32>) -> u32 {
        values.iter().sum()
    }
}

fn main() {}
