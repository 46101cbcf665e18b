use smartasync::smartasync;

#[smartasync]
trait Words: Send + Sync {
    fn words(&self) -> impl Iterator<Item = &str>;
}

#[derive(Clone)]
struct Text(String);

#[smartasync]
impl Words for Text {
    fn words(&self) -> impl Iterator<Item = &str> {
        self.0.split_whitespace()
    }
}

fn main() {}
