use smartasync::smartasync;

#[derive(Clone)]
struct Text(String);

#[smartasync]
impl Text {
    fn words(&self) -> impl Iterator<Item = &str> {
        self.0.split_whitespace()
    }
}

fn main() {}
