/// mimalloc rather than the system allocator: every 20 ms frame and message of every call is a
/// few small allocations freed on whichever worker thread finishes with them, and glibc's malloc
/// cost the server a sixth more CPU on a 1000-call bench. Built without transparent huge pages
/// (`no_thp`): where the kernel grants them on request, mimalloc's arenas grew the resident set in
/// 2 MiB steps, about 4 MB for the first call and 290 kB a call at 1000 against 210 without, for
/// no CPU it could measure.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    sicha::cli::main()
}
