use smartasync::smartasync;

#[smartasync]
trait Fetch: Send + Sync {
    fn fetch(&self, key: u32) -> u32;
}

struct Client;

#[smartasync]
impl Fetch for Client {
    async fn fetch_async(&self, key: u32) -> u32 {
        key
    }
}

fn main() {}
