// Independent mistakes are reported together.
use smartasync::smartasync;

#[derive(Clone)]
struct Buffer;

impl Buffer {
    #[smartasync]
    fn fill(&mut self, target: &mut Vec<u8>) -> &[u8] {
        target.push(1);
        &[]
    }
}

fn main() {}
