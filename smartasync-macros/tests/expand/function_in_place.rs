// `in_place`: the async entry runs the body on the awaiting thread.
#[smartasync(in_place)]
fn feed(&mut self, text: &str) -> &str {
    self.lines += text.lines().count();
    text
}

#[smartasync(in_place)]
fn checksum(data: &[u8]) -> u32 {
    data.iter().map(|byte| u32::from(*byte)).sum()
}
