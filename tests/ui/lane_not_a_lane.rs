use smartasync::smartasync;

static DB: u32 = 7;

#[smartasync(lane = DB)]
fn write(id: u32) -> u32 {
    id
}

fn main() {}
