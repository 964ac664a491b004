#include <cstdio>

#include "mmaux/core/strings.h"
#include "mmaux/core/version.h"

int main() {
  std::printf("mmaux %s suggests '%s'\n", mmaux::version(),
              mmaux::closest_match("train.lrr", {"train.lr", "train.epochs"}).c_str());
  return mmaux::closest_match("train.lrr", {"train.lr"}) == "train.lr" ? 0 : 1;
}
