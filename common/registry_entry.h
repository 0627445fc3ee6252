// registry_entry.h: how the registries (tasks, mixers, layer modules) list their entries.
//
// Each component's .cpp defines its entry (`extern const TaskEntry mqar_task_entry{...}`), and the
// registry's table names it with one line, DELTABENCH_ENTRY(TaskEntry, mqar_task_entry). The macro
// declares the entry where it is used (a block-scope extern declaration) and yields its address, so
// a table needs no #include of any component and adding a component is that one line.
#pragma once

#define DELTABENCH_ENTRY(Type, symbol) \
  [] {                                 \
    extern const Type symbol;          \
    return &symbol;                    \
  }()
