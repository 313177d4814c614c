/* signals.c - see signals.h. */
#include "aesweep/signals.h"
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t g_signal = 0;

/* only a store: anything more is not async-signal-safe */
static void on_signal(int sig) { g_signal = sig; }

void signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
}

int signals_caught(void) { return (int)g_signal; }
