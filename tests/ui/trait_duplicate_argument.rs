use smartasync::smartasync;

#[smartasync(?Send, ?Send)]
trait Load {
    fn load(&self, id: u32) -> u32;
}

fn main() {}
