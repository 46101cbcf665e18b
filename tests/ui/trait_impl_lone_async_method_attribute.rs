use smartasync::smartasync;

#[smartasync]
pub trait Store: Send + Sync {
    fn load(&self, id: u32) -> u32;
}

#[derive(Clone)]
struct Memory;

impl<T> Store for Vec<T>
where
    T: Send + Sync,
{
    // A lone attribute on an `async fn` method of a generic impl.
    #[smartasync]
    async fn load(&self, id: u32) -> u32 {
        id + self.len() as u32
    }
}

fn main() {}
