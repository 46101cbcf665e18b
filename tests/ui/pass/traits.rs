// A trait with blocking and async implementations, used through `Arc<dyn ..>` from a
// spawned task and from sync code, compiled in this package's edition.
use std::sync::Arc;

use smartasync::smartasync;

#[smartasync]
pub trait Users: Send + Sync {
    fn get(&self, id: u64) -> Option<String>;
    async fn count(&self) -> usize;
    fn describe(&self, prefix: &str) -> String {
        format!("{prefix}{}", self.count())
    }
}

#[derive(Clone)]
struct Blocking;

#[smartasync]
impl Users for Blocking {
    fn get(&self, id: u64) -> Option<String> {
        (id == 1).then(|| "ada".to_owned())
    }

    fn count(&self) -> usize {
        1
    }
}

struct Remote;

#[smartasync]
impl Users for Remote {
    async fn get(&self, id: u64) -> Option<String> {
        (id == 2).then(|| "bob".to_owned())
    }

    async fn count(&self) -> usize {
        2
    }

    async fn describe(&self, prefix: &str) -> String {
        format!("{prefix}remote")
    }
}

fn main() {
    let backends: Vec<Arc<dyn Users>> = vec![Arc::new(Blocking), Arc::new(Remote)];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for users in backends {
        let sync = (users.get(1), users.count(), users.describe("> "));
        let task = {
            let users = Arc::clone(&users);
            runtime.spawn(async move {
                (
                    users.get_async(1).await,
                    users.count_async().await,
                    users.describe_async("> ").await,
                )
            })
        };
        assert_eq!(runtime.block_on(task).unwrap(), sync);
    }
}
