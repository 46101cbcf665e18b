use smartasync::{smartasync, Lane};

static DB: Lane = Lane::new("db");

#[smartasync(lane = DB)]
async fn fetch(id: u32) -> u32 {
    id
}

fn main() {}
