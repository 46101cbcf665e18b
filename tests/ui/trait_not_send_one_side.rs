use smartasync::smartasync;

#[smartasync(?Send)]
trait Local {
    async fn len(&self) -> usize;
}

struct Holder(Vec<u8>);

#[smartasync]
impl Local for Holder {
    async fn len(&self) -> usize {
        self.0.len()
    }
}

fn main() {}
