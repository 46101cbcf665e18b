use smartasync::{smartasync, Lane};

static DB: Lane = Lane::new("db");

#[smartasync(lane = DB, limit = 2)]
fn write(id: u32) -> u32 {
    id
}

fn main() {}
