use smartasync::smartasync;

#[derive(Clone)]
struct Config {
    name: String,
}

impl Config {
    #[smartasync]
    fn name(&self) -> &str {
        &self.name
    }
}

fn main() {
    let config = Config { name: String::new() };
    let _ = config.name();
    let _ = config.name_async();
}
