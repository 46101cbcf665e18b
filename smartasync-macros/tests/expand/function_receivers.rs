// Each receiver through the async entry of a `fn` body.
#[smartasync]
fn shared(&self, add: u32) -> u32 {
    self.base + add
}

#[smartasync]
fn consume(mut self, by: u32) -> u32 {
    self.base += by;
    self.base
}

#[smartasync]
fn arc(self: Arc<Self>) -> u32 {
    self.base
}

#[smartasync]
fn shared_arc(self: &Arc<Self>) -> u32 {
    self.base
}

#[smartasync]
fn forever(&'static self) -> u32 {
    self.base
}
