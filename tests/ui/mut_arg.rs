use smartasync::smartasync;

#[smartasync]
fn fill(buffer: &mut Vec<u8>) {
    buffer.push(1);
}

fn main() {
    let mut buffer = Vec::new();
    fill(&mut buffer);
    let _ = fill_async(&mut buffer);
}
