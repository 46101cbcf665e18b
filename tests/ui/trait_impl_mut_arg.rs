use smartasync::smartasync;

#[smartasync]
trait Fill: Send + Sync {
    fn fill(&self, buffer: &mut Vec<u8>);
}

#[derive(Clone)]
struct Plain;

#[smartasync]
impl Fill for Plain {
    fn fill(&self, buffer: &mut Vec<u8>) {
        buffer.push(1);
    }
}

fn main() {}
