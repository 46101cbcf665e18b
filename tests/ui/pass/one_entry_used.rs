//! A program that uses only one entry of each pair gets no warning about the other.
#![deny(warnings)]

use smartasync::smartasync;

#[derive(Clone)]
struct Service;

impl Service {
    #[smartasync]
    fn sync_body_sync_use(&self) -> u32 {
        1
    }

    #[smartasync]
    fn sync_body_async_use(&self) -> u32 {
        2
    }

    #[smartasync]
    async fn async_body_sync_use(&self) -> u32 {
        3
    }

    #[smartasync]
    async fn async_body_async_use(&self) -> u32 {
        4
    }

    #[smartasync]
    fn constructor_async_use() -> Self {
        Self
    }

    #[smartasync]
    async fn connect_sync_use() -> Self {
        Self
    }
}

#[smartasync]
fn free_sync_body_async_use(value: u32) -> u32 {
    value
}

#[smartasync]
async fn free_async_body_sync_use(value: u32) -> u32 {
    value
}

#[smartasync]
fn free_sync_body_sync_use(value: u32) -> u32 {
    value
}

#[smartasync]
async fn free_async_body_async_use(value: u32) -> u32 {
    value
}

fn main() {
    let service = Service::connect_sync_use();
    let total = service.sync_body_sync_use()
        + service.async_body_sync_use()
        + free_async_body_sync_use(5)
        + free_sync_body_sync_use(6);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let total = total
        + runtime.block_on(async {
            let service = Service::constructor_async_use_async().await;
            service.sync_body_async_use_async().await
                + service.async_body_async_use_async().await
                + free_sync_body_async_use_async(7).await
                + free_async_body_async_use_async(8).await
        });
    assert_eq!(total, 1 + 3 + 5 + 6 + 2 + 4 + 7 + 8);
}
