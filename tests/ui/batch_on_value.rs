use smartasync::smartasync;

#[smartasync(batch = 16)]
fn total(values: Vec<u32>) -> u32 {
    values.iter().sum()
}

fn main() {}
