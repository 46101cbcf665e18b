// Independent mistakes are reported together.
use smartasync::smartasync;

#[smartasync]
trait Fill: Send + Sync {
    fn fill(&mut self, target: &mut Vec<u8>) -> &[u8];
}

#[derive(Clone)]
struct Buffer;

#[smartasync]
impl Fill for Buffer {
    fn fill(&mut self, target: &mut Vec<u8>) -> &[u8] {
        target.push(1);
        &[]
    }
}

fn main() {}
