use smartasync::smartasync;

#[smartasync]
trait Fetch: Send + Sync {
    fn fetch_async(&self, key: u32) -> u32;
}

fn main() {}
