use smartasync::smartasync;

#[smartasync]
trait Load: Send + Sync {
    fn load(&self, id: u32) -> u32;
}

struct Client;

#[smartasync]
impl Load for Client {
    #[smartasync(in_place)]
    async fn load(&self, id: u32) -> u32 {
        id
    }
}

fn main() {}
