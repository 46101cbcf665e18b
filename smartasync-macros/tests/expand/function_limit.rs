// `limit = N`: both entries take a permit of one process-wide limit per written function.
#[smartasync(limit = 4)]
fn write(&self, row: &str) -> usize {
    self.insert(row)
}

#[smartasync(limit = POOL_SIZE)]
async fn send(&self, row: String) -> usize {
    self.client.post(row).await
}

#[smartasync(limit = 1)]
fn checksum(data: &[u8]) -> u32 {
    data.iter().map(|byte| u32::from(*byte)).sum()
}

#[smartasync(in_place, limit = 2)]
fn feed(&mut self, text: &str) -> usize {
    self.lines += text.lines().count();
    self.lines
}
