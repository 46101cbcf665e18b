use smartasync::smartasync;

#[smartasync]
trait Named: Send + Sync {
    fn name(&self) -> &str;
}

#[derive(Clone)]
struct Config {
    name: String,
}

#[smartasync]
impl Named for Config {
    fn name(&self) -> &str {
        &self.name
    }
}

fn main() {}
