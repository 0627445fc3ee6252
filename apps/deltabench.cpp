// deltabench: command-line entry point (run, table, list, sample, eval, forward).
#include <cstdio>

int main() { std::puts("deltabench"); return 0; }
