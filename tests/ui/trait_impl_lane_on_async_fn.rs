use smartasync::{smartasync, Lane};

static DB: Lane = Lane::new("db");

#[smartasync]
trait Fetch: Send + Sync {
    fn fetch(&self, id: u32) -> u32;
}

struct Client;

#[smartasync]
impl Fetch for Client {
    #[smartasync(lane = DB)]
    async fn fetch(&self, id: u32) -> u32 {
        id
    }
}

fn main() {}
