//===- Commands.h - the commands of a generated binary ----------*- C++ -*-===//
#ifndef LOPT_RUNTIME_DRIVER_COMMANDS_H
#define LOPT_RUNTIME_DRIVER_COMMANDS_H

#include "runtime/driver/Flags.h"

namespace lopt::driver {

/// NAME train --data DIR --episodes N --out RUN [--resume] [--seed S]
///            [--val-every N] [--val-episodes N] [--save-every N]
///            [--threads N]
int trainCommand(const Flags &f);
extern const std::vector<std::string> trainFlags, trainSwitches;

/// NAME test --data DIR --checkpoint PATH|init [--episodes N]
///           [--split test|val] [--seed S] [--json FILE] [--threads N]
int testCommand(const Flags &f);
extern const std::vector<std::string> testFlags;

} // namespace lopt::driver

#endif // LOPT_RUNTIME_DRIVER_COMMANDS_H
