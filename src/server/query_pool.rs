//! Where queries run, and under which bounds: off the threads that serve connections.
//!
//! Query evaluation can be CPU-bound for a long time without reaching an await point (a
//! `holt_winters` fit, millions of buckets). Run on the connection runtime, two such queries on a
//! 2-core machine would stop `/ping`, `/health` and every write until they finish. So queries run
//! on a runtime of their own, at a lower scheduling priority, and the connection runtime only
//! waits for their answers.
//!
//! Tasks are not preempted: a query thread busy with a heavy query serves nothing else. With one
//! thread per core, two heavy queries would make every cheap query (a Grafana panel) wait for
//! them. So by default there is a thread for every query allowed to run at once
//! (`query.max_concurrent_queries`, at least the CPU count; 4 per CPU when unlimited), and the OS
//! time-slices a heavy query with the cheap ones, as Go's scheduler does for 1.x. Idle threads
//! cost only their (untouched) stacks. `query.workers` sets the number instead.
//!
//! Each query is also [`begin`](QueryPool::begin)-registered: counted against
//! `query.max_concurrent_queries` (1.x's `max-concurrent-queries`), listed by `SHOW QUERIES`,
//! stoppable by `KILL QUERY`, given a [`Governor`] with `query.max_memory_bytes` and a deadline
//! (`query.timeout`, 1.x's `query-timeout`) raised by a timer on the connection runtime, and
//! stopped when its client hangs up ([`HangupGuard`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::config::QueryConfig;
use crate::query::govern::{Governor, Interrupt, Registry, Ticket};

/// A query whose peak held this many bytes hands freed memory back to the OS when it ends.
const TRIM_AFTER_PEAK_BYTES: u64 = 64 * 1024 * 1024;

pub struct QueryPool {
    /// `None` only while being dropped.
    runtime: Option<tokio::runtime::Runtime>,
    registry: Arc<Registry>,
    timeout: Option<Duration>,
    max_memory_bytes: u64,
}

/// A registered query: its governor, its place in the registry and its deadline timer. Dropping
/// it ends the query's registration.
pub struct Running {
    pub governor: Governor,
    pub ticket: Ticket,
    deadline: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(t) = self.deadline.take() {
            t.abort();
        }
        if self.governor.peak() >= TRIM_AFTER_PEAK_BYTES {
            release_free_memory();
        }
    }
}

/// Interrupts a query when dropped before [`HangupGuard::disarm`]: held by the request's future,
/// which hyper drops when the client closes the connection.
pub struct HangupGuard(Option<Governor>);

impl HangupGuard {
    pub fn new(governor: &Governor) -> HangupGuard {
        HangupGuard(Some(governor.clone()))
    }

    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for HangupGuard {
    fn drop(&mut self) {
        if let Some(g) = self.0.take() {
            g.interrupt(Interrupt::ClientGone);
        }
    }
}

impl QueryPool {
    pub fn new(cfg: &QueryConfig) -> std::io::Result<QueryPool> {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let workers = match (cfg.workers, cfg.max_concurrent_queries) {
            (0, 0) => 4 * cpus,
            (0, n) => n.max(cpus),
            (n, _) => n,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("influxgate-query")
            .on_thread_start(lower_thread_priority)
            .enable_all()
            .build()?;
        Ok(QueryPool {
            runtime: Some(runtime),
            registry: Registry::new(cfg.max_concurrent_queries),
            timeout: u64::try_from(cfg.timeout).ok().filter(|n| *n > 0).map(Duration::from_nanos),
            max_memory_bytes: cfg.max_memory_bytes,
        })
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// Registers a query (`text` as SHOW QUERIES shows it, on `database`) and arms its deadline on
    /// the calling (connection) runtime; `Err` is 1.x's max-concurrent-queries text.
    pub fn begin(&self, text: String, database: String) -> Result<Running, String> {
        let governor = Governor::new(self.max_memory_bytes);
        let ticket = self.registry.attach(text, database, governor.clone())?;
        let deadline = self.timeout.map(|d| {
            let g = governor.clone();
            tokio::spawn(async move {
                tokio::time::sleep(d).await;
                g.interrupt(Interrupt::Timeout);
            })
        });
        Ok(Running { governor, ticket, deadline })
    }

    /// Runs `fut` on the query threads.
    pub fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.runtime {
            Some(rt) => rt.spawn(fut),
            None => tokio::spawn(fut),
        }
    }
}

impl Drop for QueryPool {
    fn drop(&mut self) {
        // Dropping a runtime from async code would panic; queries still running are abandoned.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Query threads yield the CPU to the connection threads when both want it.
fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority has no memory-safety preconditions; on Linux `who = 0` with
    // PRIO_PROCESS names the calling thread. A failure only leaves the priority as it was.
    unsafe {
        let _ = libc::setpriority(libc::PRIO_PROCESS, 0, 5);
    }
}

/// Hands memory the allocator keeps free back to the OS (glibc keeps freed pages of its arenas
/// otherwise, so RSS would stay at a big query's peak). Runs off the async threads: trimming a
/// large heap takes a while.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let trim = || {
            // SAFETY: malloc_trim only walks the allocator's own free lists.
            unsafe {
                libc::malloc_trim(0);
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                h.spawn_blocking(trim);
            }
            Err(_) => trim(),
        }
    }
}
